{#-
    Executive summary, one row per day with sessions (grain activity_date).
    daily/weekly/monthly active users count distinct users with a session on the day, in the
    7 days, and in the 30 days ending on it (trailing windows, so the first 6 / 29 days of the
    log see shorter history). stickiness = daily / monthly active users.
-#}
-- Incremental by day: the days from the first one this run's new sessions fall in are
-- recomputed (delete+insert on activity_date; insert_overwrite of day partitions on dbt-spark).
-- Their 30-day windows need the 30 days before that first day and nothing earlier: an
-- interval opened before them has ended by then.
-- depends_on: {{ ref('int_viewing_sessions_validated') }}
{{
    config(
        materialized='incremental',
        on_schema_change='fail',
        **replace_by_key('activity_date'),
    )
}}
{%- set windows = [(7, 'weekly'), (30, 'monthly')] -%}
{%- set longest_window = windows | map(attribute=0) | max %}

with

sessions as (
    select * from {{ ref('viewing_sessions') }}
    {%- if is_incremental() %}
    where watch_date >= {{ dbt.dateadd('day', -longest_window, first_day_written_this_run()) }}
    {%- endif %}
),

-- One row per user and active day, with the user's next active day: the log is aggregated
-- once, and distinct users per day are its rows (no count(distinct) sort).
user_days as (
    select
        user_id,
        watch_date,
        count(*) as session_count,
        sum(watch_minutes) as total_watch_minutes,
        sum(cast(completion_percentage as {{ dbt.type_numeric() }})) as sum_completion_percentage
    from sessions
    group by user_id, watch_date
),

next_active as (
    select
        watch_date,
        session_count,
        total_watch_minutes,
        sum_completion_percentage,
        lead(watch_date) over (
            partition by user_id
            order by watch_date
        ) as next_watch_date
    from user_days
),

-- Active-user windows without a distinct count over a range join: each active day of a user
-- starts an interval that lasts until the window ends or the user's next active day,
-- whichever is first. A user's intervals never overlap, so the users active in the window
-- ending on day d are the intervals covering d: a running sum of +1 (start) / -1 (end).
-- An interval lasts min(days to the next active day, window) days, so the user-days are
-- grouped by day and that gap capped at the longest window: a few thousand rows, from which
-- the day figures and every window's interval ends follow.
day_gaps as (
    select
        watch_date,
        coalesce(
            least({{ dbt.datediff('watch_date', 'next_watch_date', 'day') }}, {{ longest_window }}),
            {{ longest_window }}
        ) as gap_days,
        count(*) as user_count,
        sum(session_count) as session_count,
        sum(total_watch_minutes) as total_watch_minutes,
        sum(sum_completion_percentage) as sum_completion_percentage
    from next_active
    group by
        watch_date,
        coalesce(
            least({{ dbt.datediff('watch_date', 'next_watch_date', 'day') }}, {{ longest_window }}),
            {{ longest_window }}
        )
),

days as (
    select
        watch_date as activity_date,
        sum(session_count) as session_count,
        sum(user_count) as daily_active_users,
        sum(total_watch_minutes) as total_watch_minutes,
        sum(sum_completion_percentage)
        / cast(sum(session_count) as {{ dbt.type_numeric() }}) as mean_completion_percentage
    from day_gaps
    group by watch_date
),

{% for window_days, label in windows %}
{{ label }}_events as (
    select
        watch_date as event_date,
        user_count as delta
    from day_gaps

    union all

    select
        {{ dbt.dateadd('day', 'least(gap_days, ' ~ window_days ~ ')', 'watch_date') }} as event_date,  -- noqa: LT15
        -user_count as delta
    from day_gaps
),

{{ label }}_active as (
    select
        event_date,
        sum(sum(delta)) over (
            order by event_date
            rows between unbounded preceding and current row
        ) as active_users
    from {{ label }}_events
    group by event_date
),

{% endfor %}
final as (
    select
        days.activity_date,
        cast(days.daily_active_users as {{ dbt.type_bigint() }}) as daily_active_users,
        cast(weekly_active.active_users as {{ dbt.type_bigint() }}) as weekly_active_users,
        cast(monthly_active.active_users as {{ dbt.type_bigint() }}) as monthly_active_users,
        cast(days.session_count as {{ dbt.type_bigint() }}) as session_count,
        -- The contract's types, stated here too: the incremental schema check compares the
        -- query's types with the table's (the same rounding the contract's insert applies).
        cast(cast(days.total_watch_minutes as {{ dbt.type_numeric() }}) / 60 as numeric(18, 4)) as watch_hours,
        cast(days.mean_completion_percentage as numeric(18, 6)) as mean_completion_percentage,
        cast(
            cast(days.daily_active_users as {{ dbt.type_numeric() }})
            / cast(monthly_active.active_users as {{ dbt.type_numeric() }})
            as numeric(18, 6)
        ) as stickiness
    from days
    inner join weekly_active
        on days.activity_date = weekly_active.event_date
    inner join monthly_active
        on days.activity_date = monthly_active.event_date
    {%- if is_incremental() %}
    where days.activity_date >= {{ first_day_written_this_run() }}
    {%- endif %}
)

select * from final
