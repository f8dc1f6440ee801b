{#-
    Frequency table of completion per device type (grain device_type x completion_percentage): how many
    sessions with each device type reached exactly that completion.
-#}
with

sessions as (
    select * from {{ ref('viewing_sessions') }}
),

labelled as (
    select
        coalesce(device_type, 'unknown') as device_type,
        completion_percentage
    from sessions
),

final as (
    select
        device_type,
        completion_percentage,
        count(*) as session_count
    from labelled
    group by device_type, completion_percentage
)

select * from final
