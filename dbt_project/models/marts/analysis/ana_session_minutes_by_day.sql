{#-
    Frequency table of watch minutes per day (grain watch_date x watch_minutes), with the
    sessions' summed completion: the weekday tables, the daily series and the log's period.
-#}
-- Incremental by day: a build recomputes the days from the first one this run's new sessions
-- fall in (delete+insert on watch_date; insert_overwrite of day partitions on dbt-spark), each
-- from all of its sessions in the core, so the table stays the log's exact frequency table
-- while a new day costs a pass over that day, not over the history.
-- depends_on: {{ ref('int_viewing_sessions_validated') }}
{{
    config(
        materialized='incremental',
        on_schema_change='fail',
        **replace_by_key('watch_date'),
    )
}}

with

sessions as (
    select * from {{ ref('viewing_sessions') }}
    {%- if is_incremental() %}
    where watch_date >= {{ first_day_written_this_run() }}
    {%- endif %}
),

final as (
    select
        watch_date,
        watch_minutes,
        count(*) as session_count,
        cast(
            sum(cast(completion_percentage as {{ dbt.type_numeric() }})) as numeric(28, 6)
        ) as sum_completion_percentage
    from sessions
    group by watch_date, watch_minutes
)

select * from final
