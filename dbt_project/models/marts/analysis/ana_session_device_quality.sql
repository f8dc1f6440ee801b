{#-
    Sessions per device and quality level (grain device_type x quality_level); a missing device
    or quality level counts as 'unknown'.
-#}
with

sessions as (
    select * from {{ ref('viewing_sessions') }}
),

labelled as (
    select
        coalesce(device_type, 'unknown') as device_type,
        coalesce(quality_level, 'unknown') as quality_level
    from sessions
),

final as (
    select
        device_type,
        quality_level,
        count(*) as session_count
    from labelled
    group by device_type, quality_level
)

select * from final
