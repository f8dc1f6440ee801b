with

content as (
    select * from {{ ref('int_content_validated') }}
    where quarantine_reason is null
),

final as (
    select
        content_id,
        content_type,
        title,
        content_length_minutes,
        cast(rating as numeric(3, 1)) as rating,
        production_budget,
        views,
        batch_id,
        source_file,
        source_line,
        item_index,
        loaded_at
    from content
)

select * from final
