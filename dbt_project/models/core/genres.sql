{#- The genre vocabulary: every genre named by at least one kept content item. -#}

with

content as (
    select * from {{ ref('int_content_validated') }}
    where quarantine_reason is null
),

content_genres as (
    select * from {{ ref('stg_streaming__content_genres') }}
    where is_first_mention
),

kept as (
    select content_genres.genre
    from content_genres
    inner join content
        on content_genres.content_id = content.content_id
        and content_genres.content_type = content.content_type
        and content_genres.load_id = content.load_id
        and content_genres.source_line = content.source_line
),

final as (
    select genre
    from kept
    group by genre
)

select * from final
