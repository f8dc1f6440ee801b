{#-
    Executive summary, one row per day with sessions (grain activity_date).
    daily/weekly/monthly active users count distinct users with a session on the day, in the
    7 days, and in the 30 days ending on it (trailing windows, so the first 6 / 29 days of the
    log see shorter history). stickiness = daily / monthly active users.
-#}
with

sessions as (
    select * from {{ ref('int_viewing_sessions_joined') }}
),

user_days as (
    select distinct
        user_id,
        watch_date
    from sessions
),

days as (
    select
        watch_date as activity_date,
        count(*) as session_count,
        count(distinct user_id) as daily_active_users,
        sum(watch_minutes) as total_watch_minutes,
        avg(cast(completion_percentage as {{ dbt.type_numeric() }})) as mean_completion_percentage
    from sessions
    group by watch_date
),

trailing_windows as (
    select
        days.activity_date,
        count(distinct case
            when user_days.watch_date > {{ dbt.dateadd('day', -7, 'days.activity_date') }}
                then user_days.user_id
        end) as weekly_active_users,
        count(distinct user_days.user_id) as monthly_active_users
    from days
    inner join user_days
        on user_days.watch_date <= days.activity_date
        and user_days.watch_date > {{ dbt.dateadd('day', -30, 'days.activity_date') }}
    group by days.activity_date
),

final as (
    select
        days.activity_date,
        days.daily_active_users,
        trailing_windows.weekly_active_users,
        trailing_windows.monthly_active_users,
        days.session_count,
        cast(days.total_watch_minutes as {{ dbt.type_numeric() }}) / 60 as watch_hours,
        days.mean_completion_percentage,
        cast(days.daily_active_users as {{ dbt.type_numeric() }})
            / cast(trailing_windows.monthly_active_users as {{ dbt.type_numeric() }}) as stickiness
    from days
    inner join trailing_windows
        on days.activity_date = trailing_windows.activity_date
)

select * from final
