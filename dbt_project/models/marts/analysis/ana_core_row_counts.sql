{#-
    Rows in every core table, and the latest load time of the loaded ones (grain table_name):
    the fingerprint of the data an analysis run saw.
-#}
{%- set core_tables = [
    {'name': 'users', 'loaded': true},
    {'name': 'content', 'loaded': true},
    {'name': 'movie_details', 'loaded': false},
    {'name': 'series_details', 'loaded': false},
    {'name': 'genres', 'loaded': false},
    {'name': 'content_genres', 'loaded': false},
    {'name': 'series_episodes', 'loaded': false},
    {'name': 'viewing_sessions', 'loaded': true},
] %}

with

{% for table in core_tables %}
{{ table.name }} as (
    select * from {{ ref(table.name) }}
),

{% endfor -%}
counted as (
    {%- for table in core_tables %}
    {%- if not loop.first %}

    union all
    {%- endif %}

    select
        cast('{{ table.name }}' as {{ dbt.type_string() }}) as table_name,
        count(*) as row_count,
        {% set no_load_time = 'cast(null as ' ~ dbt.type_timestamp() ~ ')' -%}
        {{ 'max(loaded_at)' if table.loaded else no_load_time }} as max_loaded_at
    from {{ table.name }}
    {%- endfor %}
),

final as (
    select
        table_name,
        row_count,
        max_loaded_at
    from counted
)

select * from final
