{#-
    The by_device and by_quality sub-documents of the MongoDB user_analytics documents (grain
    user_id x breakdown x breakdown_value): one row per device or quality a user watched on.
    Incremental per user on PostgreSQL, as the table it reads (replace_by_user); a table on Spark.
-#}
-- depends_on: {{ ref('int_viewing_sessions_validated') }}
{{ config(**replace_by_user()) }}

with

device_quality as (
    select * from {{ ref('int_user_sessions_by_device_quality') }}
    {%- if is_incremental() %}
    where user_id in ({{ users_with_sessions_written_this_run() }})
    {%- endif %}
),

by_device as (
    select
        user_id,
        'by_device' as breakdown,
        device_type as breakdown_value,
        sum(session_count) as session_count,
        sum(total_watch_minutes) as total_watch_minutes,
        sum(sum_completion_percentage) as sum_completion_percentage
    from device_quality
    group by
        user_id,
        device_type
),

by_quality as (
    select
        user_id,
        'by_quality' as breakdown,
        quality_level as breakdown_value,
        sum(session_count) as session_count,
        sum(total_watch_minutes) as total_watch_minutes,
        sum(sum_completion_percentage) as sum_completion_percentage
    from device_quality
    group by
        user_id,
        quality_level
),

breakdowns as (
    select * from by_device
    union all
    select * from by_quality
),

final as (
    select
        user_id,
        breakdown,
        breakdown_value,
        cast(session_count as {{ dbt.type_bigint() }}) as session_count,
        cast(total_watch_minutes as {{ dbt.type_bigint() }}) as total_watch_minutes,
        cast(sum_completion_percentage as {{ dbt.type_float() }}) as sum_completion_percentage,
        cast(sum_completion_percentage as {{ dbt.type_float() }})
        / cast(session_count as {{ dbt.type_float() }}) as mean_completion_percentage
    from breakdowns
)

select * from final
