{#-
    Observed popularity of every title (grain content_id): sessions and distinct viewers in the
    session log, 0 for a title nobody watched. The catalogue's views counter (content.views) is a
    static number from content.json; this is the popularity the log itself shows.
-#}
-- The per-title engagement aggregate already counts both (every title, 0 when unwatched): read
-- it rather than the log, whose count(distinct user_id) per title sorted every session again.
with

content_engagement as (
    select * from {{ ref('int_content_engagement') }}
),

final as (
    select
        content_id,
        content_type,
        session_count,
        viewer_count
    from content_engagement
)

select * from final
