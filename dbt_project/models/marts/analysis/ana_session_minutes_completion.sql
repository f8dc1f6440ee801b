{#-
    Joint frequency table of watch minutes and completion (grain watch_minutes x
    completion_percentage): the sessions' correlations follow exactly from it.
-#}
with

sessions as (
    select * from {{ ref('viewing_sessions') }}
),

final as (
    select
        watch_minutes,
        completion_percentage,
        count(*) as session_count
    from sessions
    group by watch_minutes, completion_percentage
)

select * from final
