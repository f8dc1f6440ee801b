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
        {{ lineage_columns(from_landing=true) }}
    from source
)

select * from final
