{#-
    Frequency table of completion per quality level (grain quality_level x completion_percentage): how many
    sessions with each quality level reached exactly that completion.
-#}
with

sessions as (
    select * from {{ ref('viewing_sessions') }}
),

labelled as (
    select
        coalesce(quality_level, 'unknown') as quality_level,
        completion_percentage
    from sessions
),

final as (
    select
        quality_level,
        completion_percentage,
        count(*) as session_count
    from labelled
    group by quality_level, completion_percentage
)

select * from final
