{#-
    The retention model's behaviour features at the log's last two month starts (grain user_id x
    cutoff_date), for the out-of-time check: a model fitted at the earlier cutoff (label: watched
    in the month that follows it) scores users at the later one (label: watched in the log's last
    month). The *_before columns see only sessions before their cutoff; watched_next_month only
    the calendar month from the cutoff. Users with a session before the later month's end only.
-#}
with

sessions as (
    select * from {{ ref('viewing_sessions') }}
),

minutes_by_day as (
    select * from {{ ref('ana_session_minutes_by_day') }}
),

log_end as (
    select {{ month_start('max(watch_date)') }} as last_month_start
    from minutes_by_day
),

cutoffs as (
    select
        last_month_start as cutoff_date,
        cast({{ dbt.dateadd('month', 1, 'last_month_start') }} as date) as label_until
    from log_end
    union all
    select
        cast({{ dbt.dateadd('month', -1, 'last_month_start') }} as date) as cutoff_date,
        last_month_start as label_until
    from log_end
),

flagged as (
    select
        sessions.user_id,
        cutoffs.cutoff_date,
        sessions.watch_date,
        sessions.watch_minutes,
        sessions.completion_percentage,
        case when sessions.watch_date < cutoffs.cutoff_date then 1 else 0 end as is_before,
        case
            when sessions.watch_date >= cutoffs.cutoff_date
                and sessions.watch_date < cutoffs.label_until then 1
            else 0
        end as is_next_month,
        case
            when sessions.watch_date >= cast({{ dbt.dateadd('day', -30, 'cutoffs.cutoff_date') }} as date)
                and sessions.watch_date < cutoffs.cutoff_date then 1
            else 0
        end as is_recent,
        {{ retention_session_flags('sessions') }}
    from sessions
    inner join cutoffs
        on sessions.watch_date < cutoffs.label_until
),

final as (
    select
        user_id,
        cutoff_date,
        {{ retention_feature_columns() }},
        max(is_next_month) = 1 as watched_next_month
    from flagged
    group by user_id, cutoff_date
)

select * from final
