with

source as (
    select * from {{ source('streaming', 'series_seasons') }}
),

final as (
    select
        trim(content_id) as content_id,
        season_number,
        episode_count,
        _item_index as item_index,
        _load_id as load_id,
        _batch_id as batch_id,
        _source_file as source_file,
        _source_line as source_line,
        _loaded_at as loaded_at
    from source
)

select * from final
