{#- Invariant: a series lists one episode count per season (len(episodes_per_season) = seasons). -#}
with

series as (
    select * from {{ ref('series_details') }}
),

episodes as (
    select * from {{ ref('series_episodes') }}
),

listed as (
    select
        content_id,
        count(*) as listed_seasons,
        sum(episode_count) as listed_episodes
    from episodes
    group by content_id
)

select
    series.content_id,
    series.season_count,
    listed.listed_seasons,
    series.episode_total,
    listed.listed_episodes
from series
left join listed
    on series.content_id = listed.content_id
where listed.listed_seasons is null
    or listed.listed_seasons <> series.season_count
    or listed.listed_episodes <> series.episode_total
