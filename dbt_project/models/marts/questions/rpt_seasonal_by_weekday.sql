{#-
    Question 4b: viewing by day of week (grain iso_weekday, 1 = Monday). The weekday is computed
    with the portable iso_weekday macro, not a dialect's day-of-week function. Per-day averages
    divide by the number of distinct dates of that weekday that had sessions.
-#}
with

sessions as (
    select * from {{ ref('int_viewing_sessions_joined') }}
),

with_weekday as (
    select
        *,
        {{ iso_weekday('watch_date') }} as iso_weekday
    from sessions
),

final as (
    select
        cast(iso_weekday as integer) as iso_weekday,
        {{ weekday_name('iso_weekday') }} as weekday_name,
        count(*) as session_count,
        count(distinct watch_date) as active_day_count,
        sum(watch_minutes) as total_watch_minutes,
        cast(count(*) as {{ dbt.type_numeric() }})
            / cast(count(distinct watch_date) as {{ dbt.type_numeric() }}) as sessions_per_active_day,
        avg(cast(completion_percentage as {{ dbt.type_numeric() }})) as mean_completion_percentage
    from with_weekday
    group by iso_weekday
)

select * from final
