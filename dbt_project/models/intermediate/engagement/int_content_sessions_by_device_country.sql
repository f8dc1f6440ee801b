{#-
    Session-log engagement of each item per device and viewer country
    (grain content_id x device_type x country).
-#}
-- A table, not a view: the per-title MongoDB documents read it twice (totals and breakdowns),
-- and it is their one pass over the session log (at most 25 rows per item).
{{ config(materialized='table') }}

with

sessions as (
    select * from {{ ref('viewing_sessions') }}
),

users as (
    select * from {{ ref('users') }}
),

final as (
    select
        sessions.content_id,
        sessions.device_type,
        users.country,
        count(*) as session_count,
        cast(sum(sessions.watch_minutes) as {{ dbt.type_bigint() }}) as total_watch_minutes,
        sum(cast(sessions.completion_percentage as {{ dbt.type_numeric() }}))
        as sum_completion_percentage,
        min(sessions.watch_date) as first_watch_date,
        max(sessions.watch_date) as last_watch_date
    from sessions
    inner join users
        on sessions.user_id = users.user_id
    group by
        sessions.content_id,
        sessions.device_type,
        users.country
)

select * from final
