{#-
    Every title with the figures the popularity regressions use (grain content_id): length,
    rating, budget and views, plus release year (movies) or seasons and episodes (series).
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

final as (
    select
        content.content_id,
        content.content_type,
        content.title,
        content.content_length_minutes,
        cast(content.rating as {{ dbt.type_float() }}) as rating,
        cast(content.production_budget as {{ dbt.type_float() }}) as production_budget,
        cast(content.views as {{ dbt.type_float() }}) as views,
        movie_details.release_year,
        series_details.season_count,
        series_details.episode_total
    from content
    left join movie_details
        on content.content_id = movie_details.content_id
    left join series_details
        on content.content_id = series_details.content_id
)

select * from final
