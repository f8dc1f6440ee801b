{#-
    Movies and series as one list of content items, each with its single quarantine reason.
    Precedence (first match wins): duplicate_id, the item's own out_of_range (from staging),
    out_of_range in its lists (non-positive episode count, empty genre list), episodes_mismatch.
-#}
{%- set quarantine_rules = [
    {'when': 'occurrence_number > 1', 'reason': 'duplicate_id', 'field': 'content_id',
     'value': 'content_id', 'detail': duplicate_detail('content_id')},
    {'inherit': 'staged_quarantine'},
    {'when': "content_type = 'series' and min_episode_count <= 0", 'reason': 'out_of_range',
     'field': 'episodes_per_season', 'value': 'min_episode_count',
     'detail': sql_text('is not a positive number of episodes')},
    {'when': 'genre_count is null', 'reason': 'out_of_range', 'field': 'genre', 'value': "'[]'",
     'detail': sql_text('is an empty list')},
    {'when': "content_type = 'series' and coalesce(listed_season_count, 0) <> season_count",
     'reason': 'episodes_mismatch', 'field': 'episodes_per_season',
     'value': "coalesce(episode_list, '[]')",
     'detail': dbt.concat(["'has '", "cast(coalesce(listed_season_count, 0) as " ~ dbt.type_string() ~ ")",
                           "' entries, but seasons is '", "cast(season_count as " ~ dbt.type_string() ~ ")"])},
] -%}

with

movies as (
    select * from {{ ref('stg_streaming__movies') }}
),

series as (
    select * from {{ ref('stg_streaming__series') }}
),

series_seasons as (
    select * from {{ ref('stg_streaming__series_seasons') }}
),

content_genres as (
    select * from {{ ref('stg_streaming__content_genres') }}
),

unioned as (
    select
        content_id,
        content_type,
        title,
        content_length_minutes,
        release_year,
        cast(null as integer) as season_count,
        rating,
        views,
        production_budget,
        quarantine_reason as staged_quarantine_reason,
        quarantine_field as staged_quarantine_field,
        quarantine_value as staged_quarantine_value,
        quarantine_detail as staged_quarantine_detail,
        item_index,
        {{ lineage_columns() }},
        raw_text
    from movies

    union all

    select
        content_id,
        content_type,
        title,
        content_length_minutes,
        cast(null as integer) as release_year,
        season_count,
        rating,
        views,
        production_budget,
        quarantine_reason as staged_quarantine_reason,
        quarantine_field as staged_quarantine_field,
        quarantine_value as staged_quarantine_value,
        quarantine_detail as staged_quarantine_detail,
        item_index,
        {{ lineage_columns() }},
        raw_text
    from series
),

-- Child rows belong to the item that starts on the same line of the same load.
season_summary as (
    select
        load_id,
        source_line,
        content_id,
        count(*) as listed_season_count,
        sum(episode_count) as episode_total,
        min(episode_count) as min_episode_count,
        {{ dbt.concat(["'['", ordered_listagg("cast(episode_count as " ~ dbt.type_string() ~ ")", "', '",
                                                 "season_number"), "']'"]) }} as episode_list
    from series_seasons
    group by load_id, source_line, content_id
),

genre_summary as (
    select
        load_id,
        source_line,
        content_id,
        content_type,
        count(*) as genre_count
    from content_genres
    where is_first_mention
    group by load_id, source_line, content_id, content_type
),

occurrences as (
    select
        *,
        {{ first_occurrence_columns('content_id') }}
    from unioned
),

with_lists as (
    select
        occurrences.*,
        season_summary.listed_season_count,
        season_summary.episode_total,
        season_summary.min_episode_count,
        season_summary.episode_list,
        genre_summary.genre_count
    from occurrences
    left join season_summary
        on occurrences.load_id = season_summary.load_id
        and occurrences.source_line = season_summary.source_line
        and occurrences.content_id = season_summary.content_id
    left join genre_summary
        on occurrences.load_id = genre_summary.load_id
        and occurrences.source_line = genre_summary.source_line
        and occurrences.content_id = genre_summary.content_id
        and occurrences.content_type = genre_summary.content_type
),

final as (
    select
        content_id,
        content_type,
        title,
        content_length_minutes,
        release_year,
        season_count,
        episode_total,
        rating,
        views,
        production_budget,
        {{ quarantine_columns(quarantine_rules) }},
        item_index,
        {{ lineage_columns() }},
        raw_text
    from with_lists
)

select * from final
