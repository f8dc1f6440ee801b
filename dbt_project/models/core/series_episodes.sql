with

series as (
    select * from {{ ref('int_content_validated') }}
    where quarantine_reason is null
        and content_type = 'series'
),

series_seasons as (
    select * from {{ ref('stg_streaming__series_seasons') }}
),

-- Only the seasons of the kept occurrence of each series (same load and line as the item).
final as (
    select
        series_seasons.content_id,
        series_seasons.season_number,
        series_seasons.episode_count
    from series_seasons
    inner join series
        on series_seasons.content_id = series.content_id
        and series_seasons.load_id = series.load_id
        and series_seasons.source_line = series.source_line
)

select * from final
