{#- Question 4a: viewing by calendar month (grain activity_month). -#}
with

sessions as (
    select * from {{ ref('int_viewing_sessions_joined') }}
),

final as (
    select
        activity_month,
        count(*) as session_count,
        count(distinct user_id) as active_user_count,
        sum(watch_minutes) as total_watch_minutes,
        avg(cast(completion_percentage as {{ dbt.type_numeric() }})) as mean_completion_percentage
    from sessions
    group by activity_month
)

select * from final
