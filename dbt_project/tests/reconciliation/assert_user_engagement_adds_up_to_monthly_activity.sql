{#-
    rpt_user_engagement splits each month's users by country, plan, age band and tenure band,
    each user-month in exactly one row: per month and country x plan, its active users,
    sessions, minutes and completion sum must equal rpt_dashboard_activity's all-devices row.
    A user counted in two bands, or lost from all of them, fails here.
-#}
with

engagement as (
    select * from {{ ref('rpt_user_engagement') }}
),

activity as (
    select * from {{ ref('rpt_dashboard_activity') }}
),

engagement_totals as (
    select
        activity_month,
        country,
        subscription_type,
        sum(active_user_count) as active_user_count,
        sum(session_count) as session_count,
        sum(total_watch_minutes) as total_watch_minutes,
        sum(sum_completion_percentage) as sum_completion_percentage
    from engagement
    group by activity_month, country, subscription_type
),

activity_totals as (
    select
        activity_month,
        country,
        subscription_type,
        active_user_count,
        session_count,
        total_watch_minutes,
        sum_completion_percentage
    from activity
    where
        device_type = 'All'
        and country <> 'All'
        and subscription_type <> 'All'
),

compared as (
    select
        coalesce(engagement_totals.activity_month, activity_totals.activity_month) as activity_month,
        coalesce(engagement_totals.country, activity_totals.country) as country,
        coalesce(
            engagement_totals.subscription_type, activity_totals.subscription_type
        ) as subscription_type,
        engagement_totals.active_user_count as engagement_users,
        activity_totals.active_user_count as activity_users,
        engagement_totals.session_count as engagement_sessions,
        activity_totals.session_count as activity_sessions
    from engagement_totals
    full outer join activity_totals
        on engagement_totals.activity_month = activity_totals.activity_month
        and engagement_totals.country = activity_totals.country
        and engagement_totals.subscription_type = activity_totals.subscription_type
    where
        engagement_totals.activity_month is null
        or activity_totals.activity_month is null
        or engagement_totals.active_user_count <> activity_totals.active_user_count
        or engagement_totals.session_count <> activity_totals.session_count
        or engagement_totals.total_watch_minutes <> activity_totals.total_watch_minutes
        or engagement_totals.sum_completion_percentage <> activity_totals.sum_completion_percentage
)

select * from compared
