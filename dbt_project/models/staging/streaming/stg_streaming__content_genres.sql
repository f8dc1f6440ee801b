with

source as (
    select * from {{ source('streaming', 'content_genres') }}
),

renamed as (
    select
        trim(content_id) as content_id,
        content_type,
        {{ canonical_value('genre', var('genres')) }} as genre,
        genre_position,
        _item_index as item_index,
        {{ lineage_columns(from_landing=true) }}
    from source
),

final as (
    -- A genre written twice in one item's list counts once (its first position).
    select
        *,
        row_number() over (
            partition by load_id, source_line, content_id, genre
            order by genre_position
        ) = 1 as is_first_mention
    from renamed
)

select * from final
