with

content as (
    select * from {{ ref('int_content_validated') }}
    where quarantine_reason is null
),

content_genres as (
    select * from {{ ref('stg_streaming__content_genres') }}
    where is_first_mention
),

-- Only the genres of the kept occurrence of each item (same load, line and list).
final as (
    select
        content_genres.content_id,
        content_genres.genre,
        content_genres.genre_position
    from content_genres
    inner join content
        on content_genres.content_id = content.content_id
        and content_genres.content_type = content.content_type
        and content_genres.load_id = content.load_id
        and content_genres.source_line = content.source_line
)

select * from final
