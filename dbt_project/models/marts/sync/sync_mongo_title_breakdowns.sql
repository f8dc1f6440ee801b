{#-
    The by_country and by_device sub-documents of the MongoDB content_analytics documents (grain
    content_id x breakdown x breakdown_value): one row per viewer country or device an item was
    watched from.
-#}
with

device_country as (
    select * from {{ ref('int_content_sessions_by_device_country') }}
),

by_country as (
    select
        content_id,
        'by_country' as breakdown,
        country as breakdown_value,
        sum(session_count) as session_count,
        sum(total_watch_minutes) as total_watch_minutes,
        sum(sum_completion_percentage) as sum_completion_percentage
    from device_country
    group by
        content_id,
        country
),

by_device as (
    select
        content_id,
        'by_device' as breakdown,
        device_type as breakdown_value,
        sum(session_count) as session_count,
        sum(total_watch_minutes) as total_watch_minutes,
        sum(sum_completion_percentage) as sum_completion_percentage
    from device_country
    group by
        content_id,
        device_type
),

breakdowns as (
    select * from by_country
    union all
    select * from by_device
),

final as (
    select
        content_id,
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
