{#- Session-log engagement of every valid item, watched or not (grain content_id). -#}
with

content as (
    select * from {{ ref('content') }}
),

sessions as (
    select * from {{ ref('viewing_sessions') }}
),

engagement as (
    select
        content_id,
        count(*) as session_count,
        count(distinct user_id) as viewer_count,
        sum(watch_minutes) as total_watch_minutes,
        avg(cast(completion_percentage as {{ dbt.type_numeric() }})) as mean_completion_percentage
    from sessions
    group by content_id
),

final as (
    select
        content.content_id,
        content.content_type,
        content.title,
        content.rating,
        content.views,
        content.production_budget,
        coalesce(engagement.session_count, 0) as session_count,
        coalesce(engagement.viewer_count, 0) as viewer_count,
        coalesce(engagement.total_watch_minutes, 0) as total_watch_minutes,
        engagement.mean_completion_percentage
    from content
    left join engagement
        on content.content_id = engagement.content_id
)

select * from final
