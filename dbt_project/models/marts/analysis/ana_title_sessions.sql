{#-
    Observed popularity of every title (grain content_id): sessions and distinct viewers in the
    session log, 0 for a title nobody watched. The catalogue's views counter (content.views) is a
    static number from content.json; this is the popularity the log itself shows.
-#}
with

content as (
    select * from {{ ref('content') }}
),

sessions as (
    select * from {{ ref('viewing_sessions') }}
),

per_title as (
    select
        content_id,
        count(*) as session_count,
        count(distinct user_id) as viewer_count
    from sessions
    group by content_id
),

final as (
    select
        content.content_id,
        content.content_type,
        coalesce(per_title.session_count, 0) as session_count,
        coalesce(per_title.viewer_count, 0) as viewer_count
    from content
    left join per_title
        on content.content_id = per_title.content_id
)

select * from final
