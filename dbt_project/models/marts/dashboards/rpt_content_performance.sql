{#-
    Content performance: the 10 most watched movies and the 10 most watched series, overall
    (genre_scope 'All genres') and within each genre (grain content_type x genre_scope x
    performance_rank). Ranked by session_count, then total_watch_minutes, then content_id.
    An item with several genres appears in each of its genres' lists; sum within one
    genre_scope only.
-#}
with

engagement as (
    select * from {{ ref('int_content_engagement') }}
),

content_genres as (
    select * from {{ ref('content_genres') }}
),

scoped as (
    select
        'All genres' as genre_scope,
        engagement.*
    from engagement

    union all

    select
        content_genres.genre as genre_scope,
        engagement.*
    from engagement
    inner join content_genres
        on engagement.content_id = content_genres.content_id
),

ranked as (
    select
        *,
        row_number() over (
            partition by content_type, genre_scope
            order by session_count desc nulls last, total_watch_minutes desc nulls last, content_id asc
        ) as performance_rank
    from scoped
),

final as (
    select
        content_type,
        genre_scope,
        cast(performance_rank as integer) as performance_rank,
        content_id,
        title,
        session_count,
        viewer_count,
        cast(cast(total_watch_minutes as {{ dbt.type_numeric() }}) / 60 as numeric(18, 4)) as watch_hours,
        cast(mean_completion_percentage as numeric(18, 6)) as mean_completion_percentage,
        rating,
        views
    from ranked
    where performance_rank <= 10
)

select * from final
