{#-
    Question 4b: viewing by day of week (grain iso_weekday, 1 = Monday). The weekday is computed
    with the portable iso_weekday macro, not a dialect's day-of-week function. Per-day averages
    divide by the number of distinct dates of that weekday that had sessions.
-#}
with

sessions as (
    select * from {{ ref('viewing_sessions') }}
),

-- Aggregated per date first: the weekday is then computed once per date, not per session,
-- and a weekday's active dates are its rows.
days as (
    select
        watch_date,
        count(*) as session_count,
        sum(watch_minutes) as total_watch_minutes,
        sum(cast(completion_percentage as {{ dbt.type_numeric() }})) as sum_completion_percentage
    from sessions
    group by watch_date
),

with_weekday as (
    select
        *,
        {{ iso_weekday('watch_date') }} as iso_weekday
    from days
),

final as (
    select
        cast(iso_weekday as integer) as iso_weekday,
        {{ weekday_name('iso_weekday') }} as weekday_name,
        cast(sum(session_count) as {{ dbt.type_bigint() }}) as session_count,
        count(*) as active_day_count,
        cast(sum(total_watch_minutes) as {{ dbt.type_bigint() }}) as total_watch_minutes,
        cast(
            cast(sum(session_count) as {{ dbt.type_numeric() }})
            / cast(count(*) as {{ dbt.type_numeric() }}) as numeric(18, 6)
        ) as sessions_per_active_day,
        cast(
            sum(sum_completion_percentage) / cast(sum(session_count) as {{ dbt.type_numeric() }}) as numeric(18, 6)
        ) as mean_completion_percentage
    from with_weekday
    group by iso_weekday
)

select * from final
