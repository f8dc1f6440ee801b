{#-
    One row per user and calendar month in which the user watched at least once (grain
    user_id x activity_month), with the user's first-watch (cohort) month.
-#}
-- A table, not a view: the monthly and per-country marts and retention read it instead of the
-- session log (about a fifth of its rows).
{{ config(materialized='table') }}

with

sessions as (
    select * from {{ ref('int_viewing_sessions_joined') }}
),

user_months as (
    select
        user_id,
        activity_month,
        country,
        subscription_type,
        count(*) as session_count,
        sum(watch_minutes) as total_watch_minutes,
        sum(cast(completion_percentage as {{ dbt.type_numeric() }})) as sum_completion_percentage
    from sessions
    group by user_id, activity_month, country, subscription_type
),

final as (
    select
        user_id,
        activity_month,
        min(activity_month) over (partition by user_id) as cohort_month,
        country,
        subscription_type,
        session_count,
        total_watch_minutes,
        sum_completion_percentage
    from user_months
)

select * from final
