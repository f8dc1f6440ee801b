{#-
    The MongoDB content_analytics documents, one row per valid item (grain content_id), the
    document's scalar fields as columns. An item without sessions has zero counts and null dates
    and mean. The document's genres are sync_mongo_title_genres, its breakdowns
    sync_mongo_title_breakdowns (viewer country, device).
-#}
with

content as (
    select * from {{ ref('content') }}
),

movie_details as (
    select * from {{ ref('movie_details') }}
),

series_details as (
    select * from {{ ref('series_details') }}
),

device_country as (
    select * from {{ ref('int_content_sessions_by_device_country') }}
),

content_engagement as (
    select * from {{ ref('int_content_engagement') }}
),

engagement as (
    select
        content_id,
        sum(session_count) as session_count,
        sum(total_watch_minutes) as total_watch_minutes,
        sum(sum_completion_percentage) as sum_completion_percentage,
        min(first_watch_date) as first_watch_date,
        max(last_watch_date) as last_watch_date
    from device_country
    group by content_id
),

-- Items without sessions get zero counts and sums (null dates and mean).
joined as (
    select
        content.content_id,
        content.content_type,
        content.title,
        content.rating,
        content.production_budget,
        content.views,
        content.content_length_minutes,
        movie_details.release_year,
        series_details.season_count,
        series_details.episode_total,
        coalesce(engagement.session_count, 0) as session_count,
        coalesce(engagement.total_watch_minutes, 0) as total_watch_minutes,
        coalesce(engagement.sum_completion_percentage, 0) as sum_completion_percentage,
        engagement.first_watch_date,
        engagement.last_watch_date,
        coalesce(content_engagement.viewer_count, 0) as viewer_count
    from content
    left join movie_details
        on content.content_id = movie_details.content_id
    left join series_details
        on content.content_id = series_details.content_id
    left join engagement
        on content.content_id = engagement.content_id
    left join content_engagement
        on content.content_id = content_engagement.content_id
),

final as (
    select
        content_id,
        content_type,
        title,
        cast(rating as {{ dbt.type_float() }}) as rating,
        production_budget,
        views,
        content_length_minutes,
        release_year,
        season_count,
        cast(episode_total as {{ dbt.type_bigint() }}) as episode_total,
        cast(session_count as {{ dbt.type_bigint() }}) as session_count,
        cast(total_watch_minutes as {{ dbt.type_bigint() }}) as total_watch_minutes,
        cast(sum_completion_percentage as {{ dbt.type_float() }}) as sum_completion_percentage,
        cast(sum_completion_percentage as {{ dbt.type_float() }})
        / cast(nullif(session_count, 0) as {{ dbt.type_float() }})
        as mean_completion_percentage,
        first_watch_date,
        last_watch_date,
        cast(viewer_count as {{ dbt.type_bigint() }}) as viewer_count
    from joined
)

select * from final
