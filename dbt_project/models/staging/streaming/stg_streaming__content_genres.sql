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
        _load_id as load_id,
        _batch_id as batch_id,
        _source_file as source_file,
        _source_line as source_line,
        _loaded_at as loaded_at
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
