{#-
    The genres array of the MongoDB content_analytics documents (grain content_id x genre), with
    each genre's position in the item's list: the document lists them in that order.
-#}
with

content_genres as (
    select * from {{ ref('content_genres') }}
),

final as (
    select
        content_id,
        genre_position,
        genre
    from content_genres
)

select * from final
