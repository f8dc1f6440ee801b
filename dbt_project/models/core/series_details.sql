with

content as (
    select * from {{ ref('int_content_validated') }}
    where quarantine_reason is null
        and content_type = 'series'
),

final as (
    select
        content_id,
        season_count,
        episode_total
    from content
)

select * from final
