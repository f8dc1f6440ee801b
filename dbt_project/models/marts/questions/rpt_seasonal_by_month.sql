{#- Question 4a: viewing by calendar month (grain activity_month). -#}
with

-- One row per user and active month: its rows per month are the month's distinct users.
user_months as (
    select * from {{ ref('int_user_months_active') }}
),

final as (
    select
        activity_month,
        cast(sum(session_count) as {{ dbt.type_bigint() }}) as session_count,
        count(*) as active_user_count,
        cast(sum(total_watch_minutes) as {{ dbt.type_bigint() }}) as total_watch_minutes,
        cast(
            sum(sum_completion_percentage) / cast(sum(session_count) as {{ dbt.type_numeric() }}) as numeric(18, 6)
        ) as mean_completion_percentage
    from user_months
    group by activity_month
)

select * from final
