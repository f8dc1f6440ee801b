{#-
    One row per user and calendar month in which the user watched at least once (grain
    user_id x activity_month), with the user's first-watch (cohort) month.
-#}
-- A table, not a view: the monthly and per-country marts and retention read it instead of the
-- session log (about a fifth of its rows).
{{ config(materialized='table') }}

with

sessions as (
    select * from {{ ref('viewing_sessions') }}
),

users as (
    select * from {{ ref('users') }}
),

user_months as (
    select
        user_id,
        {{ month_start('watch_date') }} as activity_month,
        count(*) as session_count,
        sum(watch_minutes) as total_watch_minutes,
        sum(cast(completion_percentage as {{ dbt.type_numeric() }})) as sum_completion_percentage
    from sessions
    group by user_id, {{ month_start('watch_date') }}
),

final as (
    select
        user_months.user_id,
        user_months.activity_month,
        min(user_months.activity_month) over (partition by user_months.user_id) as cohort_month,
        users.country,
        users.subscription_type,
        user_months.session_count,
        user_months.total_watch_minutes,
        user_months.sum_completion_percentage
    from user_months
    inner join users
        on user_months.user_id = users.user_id
)

select * from final
