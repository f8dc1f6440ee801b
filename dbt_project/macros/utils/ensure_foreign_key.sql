{#-
    Post-hook for incremental tables with contract foreign keys. dbt rebuilds a parent table by
    swapping in a new copy and dropping the old one with CASCADE, which silently drops the
    foreign keys that point at it; tables rebuilt after the parent get theirs back from their
    contract, but an incremental child is not rebuilt. This adds the key back when no foreign
    key from `column` to `parent`(`parent_column`) exists (a no-op statement otherwise), so the
    key is enforced after every build.
    Dispatched: only PostgreSQL enforces foreign keys and has information_schema; elsewhere
    (dbt-spark) the key is a relationships test and the hook is a no-op statement.
-#}
{% macro ensure_foreign_key(relation, column, parent, parent_column) %}
    {{- return(adapter.dispatch('ensure_foreign_key')(relation, column, parent, parent_column)) -}}
{% endmacro %}


{% macro default__ensure_foreign_key(relation, column, parent, parent_column) %}
    select 1 as foreign_key_not_enforced
{% endmacro %}


{% macro postgres__ensure_foreign_key(relation, column, parent, parent_column) %}
    {%- if not execute -%}
        {{ return('select 1') }}
    {%- endif -%}
    {%- set lookup -%}
        select count(*)
        from information_schema.table_constraints as constraints
        inner join information_schema.key_column_usage as child_columns
            on constraints.constraint_schema = child_columns.constraint_schema
            and constraints.constraint_name = child_columns.constraint_name
        inner join information_schema.constraint_column_usage as parent_columns
            on constraints.constraint_schema = parent_columns.constraint_schema
            and constraints.constraint_name = parent_columns.constraint_name
        where constraints.constraint_type = 'FOREIGN KEY'
            and constraints.table_schema = '{{ relation.schema }}'
            and constraints.table_name = '{{ relation.identifier }}'
            and child_columns.column_name = '{{ column }}'
            and parent_columns.table_schema = '{{ parent.schema }}'
            and parent_columns.table_name = '{{ parent.identifier }}'
            and parent_columns.column_name = '{{ parent_column }}'
    {%- endset -%}
    {%- set present = run_query(lookup).columns[0].values()[0] | int > 0 -%}
    {%- if present -%}
        select 1 as foreign_key_present
    {%- else -%}
        alter table {{ relation }}
            add constraint {{ relation.identifier }}_{{ column }}_fkey
            foreign key ({{ column }}) references {{ parent }} ({{ parent_column }})
    {%- endif -%}
{% endmacro %}
