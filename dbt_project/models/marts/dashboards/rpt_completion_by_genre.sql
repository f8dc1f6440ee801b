{#-
    Session completion by content type and genre (grain content_type x genre): sessions of the
    type's items in the genre and their mean completion. An item counts under each of its
    genres, so the rows of one type do not add up to the type's sessions.
-#}
with

engagement as (
    select * from {{ ref('int_content_engagement') }}
),

content_genres as (
    select * from {{ ref('content_genres') }}
),

final as (
    select
        engagement.content_type,
        content_genres.genre,
        count(*) as title_count,
        cast(sum(engagement.session_count) as {{ dbt.type_bigint() }}) as session_count,
        cast(
            sum(engagement.mean_completion_percentage * engagement.session_count)
            / nullif(sum(engagement.session_count), 0)
            as {{ dbt.type_numeric() }}
        ) as mean_completion_percentage
    from engagement
    inner join content_genres
        on engagement.content_id = content_genres.content_id
    group by engagement.content_type, content_genres.genre
)

select * from final
