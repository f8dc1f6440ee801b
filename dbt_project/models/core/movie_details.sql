with

content as (
    select * from {{ ref('int_content_validated') }}
    where quarantine_reason is null
        and content_type = 'movie'
),

final as (
    select
        content_id,
        release_year
    from content
)

select * from final
