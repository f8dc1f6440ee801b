{#-
    Financial dashboard, cost side: production budget against audience for every valid item
    (grain content_id). cost_per_view divides the budget by the catalogue's views;
    cost_per_session by the sessions in our log (null when there are none).
-#}
with

engagement as (
    select * from {{ ref('int_content_engagement') }}
),

content_genres as (
    select * from {{ ref('content_genres') }}
),

primary_genres as (
    select
        content_id,
        genre as primary_genre
    from content_genres
    -- Position 1 always survives staging's de-duplication of a genre list.
    where genre_position = 1
),

final as (
    select
        engagement.content_id,
        engagement.content_type,
        engagement.title,
        primary_genres.primary_genre,
        engagement.production_budget,
        engagement.views,
        engagement.session_count,
        engagement.rating,
        cast(
            cast(engagement.production_budget as {{ dbt.type_numeric() }})
            / cast(nullif(engagement.views, 0) as {{ dbt.type_numeric() }}) as numeric(18, 4)
        ) as cost_per_view,
        cast(
            cast(engagement.production_budget as {{ dbt.type_numeric() }})
            / cast(nullif(engagement.session_count, 0) as {{ dbt.type_numeric() }}) as numeric(18, 4)
        ) as cost_per_session
    from engagement
    left join primary_genres
        on engagement.content_id = primary_genres.content_id
)

select * from final
