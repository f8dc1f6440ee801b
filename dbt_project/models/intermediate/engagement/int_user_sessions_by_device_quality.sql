{#-
    Session-log engagement of each user per device and quality
    (grain user_id x device_type x quality_level).
-#}
-- Materialized: the per-user MongoDB documents read it twice (totals and breakdowns), and it is
-- their one pass over the session log (at most 15 rows per user). Incremental per user on
-- PostgreSQL (replace_by_user): a build recomputes, from all of their sessions, the users whose
-- sessions it wrote or replaced; it copies no user attribute. A table rebuilt whole on Spark.
-- depends_on: {{ ref('int_viewing_sessions_validated') }}
{{ config(**replace_by_user()) }}

with

sessions as (
    select * from {{ ref('viewing_sessions') }}
    {%- if is_incremental() %}
    where user_id in ({{ users_with_sessions_written_this_run() }})
    {%- endif %}
),

final as (
    select
        user_id,
        device_type,
        quality_level,
        count(*) as session_count,
        cast(sum(watch_minutes) as {{ dbt.type_bigint() }}) as total_watch_minutes,
        sum(cast(completion_percentage as {{ dbt.type_numeric() }})) as sum_completion_percentage,
        min(watch_date) as first_watch_date,
        max(watch_date) as last_watch_date
    from sessions
    group by
        user_id,
        device_type,
        quality_level
)

select * from final
