{#-
    Sessions per device and quality level (grain device_type x quality_level); a missing device
    or quality level counts as 'unknown'.
-#}
with

-- The user x device x quality aggregate of the log, not the log itself: the same counts.
device_quality as (
    select * from {{ ref('int_user_sessions_by_device_quality') }}
),

labelled as (
    select
        coalesce(device_type, 'unknown') as device_type,
        coalesce(quality_level, 'unknown') as quality_level,
        session_count
    from device_quality
),

final as (
    select
        device_type,
        quality_level,
        cast(sum(session_count) as {{ dbt.type_bigint() }}) as session_count
    from labelled
    group by device_type, quality_level
)

select * from final
