{#-
    The retention model's behaviour features at the log's last two month starts (grain user_id x
    cutoff_date), for the out-of-time check: a model fitted at the earlier cutoff (label: watched
    in the month that follows it) scores users at the later one (label: watched in the log's last
    month). The *_before columns see only sessions before their cutoff; watched_next_month only
    the calendar month from the cutoff. Users with a session before the later month's end only.
-#}
-- The later cutoff is ana_user_retention_features' own (the first day of the log's last month,
-- whose month runs to the log's end: watched_next_month is its is_retained), so its rows are
-- taken from there and only the earlier cutoff reads the log: one pass over the sessions, not
-- two (every session before the last month used to be joined to both cutoffs).
with

sessions as (
    select * from {{ ref('viewing_sessions') }}
),

latest_features as (
    select * from {{ ref('ana_user_retention_features') }}
),

minutes_by_day as (
    select * from {{ ref('ana_session_minutes_by_day') }}
),

log_end as (
    select {{ month_start('max(watch_date)') }} as last_month_start
    from minutes_by_day
),

earlier_cutoff as (
    select
        cast({{ dbt.dateadd('month', -1, 'last_month_start') }} as date) as cutoff_date,
        last_month_start as label_until
    from log_end
),

flagged as (
    select
        sessions.user_id,
        earlier_cutoff.cutoff_date,
        sessions.watch_date,
        sessions.watch_minutes,
        sessions.completion_percentage,
        case when sessions.watch_date < earlier_cutoff.cutoff_date then 1 else 0 end as is_before,
        case
            when sessions.watch_date >= earlier_cutoff.cutoff_date
                and sessions.watch_date < earlier_cutoff.label_until then 1
            else 0
        end as is_next_month,
        case
            when sessions.watch_date >= cast({{ dbt.dateadd('day', -30, 'earlier_cutoff.cutoff_date') }} as date)
                and sessions.watch_date < earlier_cutoff.cutoff_date then 1
            else 0
        end as is_recent,
        {{ retention_session_flags('sessions') }}
    from sessions
    inner join earlier_cutoff
        on sessions.watch_date < earlier_cutoff.label_until
),

earlier as (
    select
        user_id,
        cutoff_date,
        {{ retention_feature_columns() }},
        max(is_next_month) = 1 as watched_next_month
    from flagged
    group by user_id, cutoff_date
),

later as (
    select
        user_id,
        cutoff_date,
        sessions_before,
        watch_minutes_before,
        mean_completion_before,
        active_days_before,
        last_session_before,
        share_4k_before,
        share_mobile_before,
        sessions_last_30_days,
        is_retained as watched_next_month
    from latest_features
),

final as (
    select * from earlier
    union all
    select * from later
)

select * from final
