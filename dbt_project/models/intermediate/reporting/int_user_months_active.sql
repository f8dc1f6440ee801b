{#-
    One row per user and calendar month in which the user watched at least once (grain
    user_id x activity_month), with the user's first-watch (cohort) month.
-#}
-- A table, not a view: the monthly and per-country marts and retention read it instead of the
-- session log (about a fifth of its rows).
-- Incremental by month: a build recomputes the months from the earliest one this run's new
-- sessions fall in (delete+insert on activity_month; insert_overwrite of month partitions
-- on dbt-spark). A user's cohort can only come from those months if the user has no earlier
-- month, so earlier rows keep theirs and lend it to the recomputed ones.
-- depends_on: {{ ref('int_viewing_sessions_validated') }}
{{
    config(
        materialized='incremental',
        on_schema_change='fail',
        **replace_by_key('activity_month'),
    )
}}

with

sessions as (
    select * from {{ ref('viewing_sessions') }}
    {%- if is_incremental() %}
    where watch_date >= {{ first_month_written_this_run() }}
    {%- endif %}
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

{% if is_incremental() -%}
earlier_cohorts as (
    select
        user_id,
        min(cohort_month) as cohort_month
    from {{ this }}
    where activity_month < {{ first_month_written_this_run() }}
    group by user_id
),

{% endif -%}
final as (
    select
        user_months.user_id,
        user_months.activity_month,
        {% if is_incremental() -%}
        coalesce(
            earlier_cohorts.cohort_month,
            min(user_months.activity_month) over (partition by user_months.user_id)
        ) as cohort_month,
        {%- else -%}
        min(user_months.activity_month) over (partition by user_months.user_id) as cohort_month,
        {%- endif %}
        users.country,
        users.subscription_type,
        user_months.session_count,
        user_months.total_watch_minutes,
        user_months.sum_completion_percentage
    from user_months
    inner join users
        on user_months.user_id = users.user_id
    {%- if is_incremental() %}
    left join earlier_cohorts
        on user_months.user_id = earlier_cohorts.user_id
    {%- endif %}
)

select * from final
