{#-
    Incremental configs per engine. PostgreSQL deletes the rows of a key and inserts the new
    ones (delete+insert). dbt-spark on plain Parquet has no row-level delete (no Delta, so no
    merge): the key becomes the table's partition column and insert_overwrite replaces exactly
    the partitions the run's query returns (dynamic partition overwrite). The same model SQL
    serves both when it returns every row of each period it recomputes, which the month and day
    aggregates do. Spark puts partition columns last in the table; consumers select by name.
-#}
{% macro replace_by_key(key) -%}
    {%- if target.type == 'spark' -%}
        {{ return({'incremental_strategy': 'insert_overwrite', 'partition_by': [key]}) }}
    {%- else -%}
        {{ return({'incremental_strategy': 'delete+insert', 'unique_key': key}) }}
    {%- endif -%}
{%- endmacro %}


{#-
    core.viewing_sessions replaces a corrected re-export's sessions by session_id. On Spark the
    table is partitioned by batch_id (one partition per loaded file) and a run returns, besides
    its new rows, the rows it keeps of every partition it touches (below), so overwriting
    those partitions drops exactly the replaced rows. See docs/dbt.md, Portability.
-#}
{% macro replace_by_key_within_batches(key) -%}
    {%- if target.type == 'spark' -%}
        {{ return({'incremental_strategy': 'insert_overwrite', 'partition_by': ['batch_id']}) }}
    {%- else -%}
        {{ return({'incremental_strategy': 'delete+insert', 'unique_key': key}) }}
    {%- endif -%}
{%- endmacro %}


{#-
    Spark only (an empty string elsewhere): `union all` of the rows of `relation` (this) that the
    run keeps in the batch partitions it rewrites - the partitions of its new rows and those
    holding a `key` the new rows replace - less the replaced keys. `new_rows` is the CTE of the
    run's new rows; `columns` the column list in the output's order.
-#}
{% macro rows_kept_in_rewritten_batches(relation, new_rows, key, columns) -%}
    {%- if target.type == 'spark' and is_incremental() %}
    union all

    select {{ columns | join(', ') }}
    from {{ relation }}
    where batch_id in (
            select batch_id from {{ new_rows }}
            union
            select held.batch_id
            from {{ relation }} as held
            inner join {{ new_rows }} as replacing
                on held.{{ key }} = replacing.{{ key }}
        )
        and {{ key }} not in (select {{ key }} from {{ new_rows }})
    {%- endif %}
{%- endmacro %}


{#-
    Post-hook, Spark only: a batch partition whose every key a newer load replaced returns no
    kept rows, so insert_overwrite leaves it as it was; drop it. After the overwrite, a partition
    holding a key that a later-loaded row also holds is such a partition (a partition the run
    rewrote no longer holds replaced keys).
-#}
{% macro drop_replaced_batches(relation, key) -%}
    {%- if target.type != 'spark' or not execute or not is_incremental() -%}
        select 1 as nothing_to_drop
    {%- else -%}
        {%- set stale_query -%}
            select distinct older.batch_id
            from {{ relation }} as older
            inner join {{ relation }} as newer
                on older.{{ key }} = newer.{{ key }}
                and older.loaded_at < newer.loaded_at
        {%- endset -%}
        {%- set stale = run_query(stale_query).columns[0].values() -%}
        {%- if stale | length == 0 -%}
            select 1 as nothing_to_drop
        {%- else -%}
            alter table {{ relation }} drop if exists
            {%- for batch_id in stale %} partition (batch_id = '{{ batch_id }}'){{ ',' if not loop.last }}{% endfor %}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}


{#-
    Per-user models: PostgreSQL recomputes only the users a build touches (delete+insert on
    user_id; the model's query returns every row of each user it recomputes, see
    users_with_sessions_written_this_run). dbt-spark on plain Parquet cannot delete rows, and a
    partition per user (hundreds of thousands of directories) is not a viable insert_overwrite
    key, so there the model stays a table rebuilt whole; is_incremental() is then never true.
-#}
{% macro replace_by_user() -%}
    {%- if target.type == 'spark' -%}
        {{ return({'materialized': 'table'}) }}
    {%- else -%}
        {{ return({
            'materialized': 'incremental',
            'incremental_strategy': 'delete+insert',
            'unique_key': 'user_id',
            'on_schema_change': 'fail',
        }) }}
    {%- endif -%}
{%- endmacro %}
