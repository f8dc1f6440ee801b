{#-
    The retention model's behaviour features (grain user_id, users with at least one session).
    cutoff_date is the first day of the log's last month: the *_before columns see only sessions
    before it, is_retained says whether the user watched on or after it (the target).
-#}
with

sessions as (
    select * from {{ ref('viewing_sessions') }}
),

minutes_by_day as (
    select * from {{ ref('ana_session_minutes_by_day') }}
),

log_end as (
    select max(watch_date) as last_watch_date
    from minutes_by_day
),

split as (
    select
        {{ month_start('last_watch_date') }} as cutoff_date,
        cast({{ dbt.dateadd('day', -30, month_start('last_watch_date')) }} as date) as recent_from
    from log_end
),

flagged as (
    select
        sessions.user_id,
        split.cutoff_date,
        sessions.watch_date,
        sessions.watch_minutes,
        sessions.completion_percentage,
        case when sessions.watch_date < split.cutoff_date then 1 else 0 end as is_before,
        case
            when sessions.watch_date >= split.recent_from
                and sessions.watch_date < split.cutoff_date then 1
            else 0
        end as is_recent,
        {{ retention_session_flags('sessions') }}
    from sessions
    cross join split
),

final as (
    select
        user_id,
        cutoff_date,
        {{ retention_feature_columns() }},
        max(1 - is_before) = 1 as is_retained
    from flagged
    group by user_id, cutoff_date
)

select * from final
