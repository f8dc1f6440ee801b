{#-
    Question 1: the 5 most watched titles in each country, ranked two ways (grain country x
    ranking_metric x content_rank; exactly 5 ranks per country and metric when 5 titles were watched).
    ranking_metric 'sessions': by session_count, ties by total_watch_minutes, then content_id.
    ranking_metric 'watch_minutes': by total_watch_minutes, ties by session_count, then content_id.
    content_id breaks the last tie so the ranking never depends on row order.
-#}
with

-- The item x device x country aggregate of the log (already built for the title documents):
-- a few thousand rows instead of the whole log joined to the users again.
content_sessions as (
    select * from {{ ref('int_content_sessions_by_device_country') }}
),

content as (
    select * from {{ ref('content') }}
),

country_sessions as (
    select
        country,
        content_id,
        cast(sum(session_count) as {{ dbt.type_bigint() }}) as session_count,
        cast(sum(total_watch_minutes) as {{ dbt.type_bigint() }}) as total_watch_minutes
    from content_sessions
    group by country, content_id
),

country_content as (
    select
        country_sessions.country,
        country_sessions.content_id,
        content.content_type,
        content.title,
        country_sessions.session_count,
        country_sessions.total_watch_minutes
    from country_sessions
    inner join content
        on country_sessions.content_id = content.content_id
),

ranked as (
    select
        *,
        row_number() over (
            partition by country
            order by session_count desc nulls last, total_watch_minutes desc nulls last, content_id asc
        ) as rank_by_sessions,
        row_number() over (
            partition by country
            order by total_watch_minutes desc nulls last, session_count desc nulls last, content_id asc
        ) as rank_by_minutes
    from country_content
),

unpivoted as (
    select
        country,
        'sessions' as ranking_metric,
        rank_by_sessions as content_rank,
        content_id,
        title,
        content_type,
        session_count,
        total_watch_minutes
    from ranked
    where rank_by_sessions <= 5

    union all

    select
        country,
        'watch_minutes' as ranking_metric,
        rank_by_minutes as content_rank,
        content_id,
        title,
        content_type,
        session_count,
        total_watch_minutes
    from ranked
    where rank_by_minutes <= 5
),

final as (
    select
        country,
        ranking_metric,
        cast(content_rank as integer) as content_rank,
        content_id,
        title,
        content_type,
        session_count,
        total_watch_minutes
    from unpivoted
)

select * from final
