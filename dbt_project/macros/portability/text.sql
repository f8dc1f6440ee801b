{#-
    Engine differences that change text or order silently (SPARK_NOTES.md, "Silent differences");
    each is checked on both engines by tests/portability/assert_portable_text_and_order.sql.
-#}

{#-
    A value as text, as PostgreSQL writes it. Spark writes a decimal with its type's full scale
    (58.500000 for 58.5; PostgreSQL keeps the scale the value was written with, one decimal in
    every export) and a timestamp without PostgreSQL's UTC offset (both sessions run in UTC).
    On Spark the trailing zeros after the first decimal go and '+00' is appended; `typeof` is
    folded when the query is planned.
-#}
{% macro to_text(expression) -%}
    {{- return(adapter.dispatch('to_text')(expression)) -}}
{%- endmacro %}

{% macro default__to_text(expression) -%}
    cast({{ expression }} as {{ dbt.type_string() }})
{%- endmacro %}

{% macro spark__to_text(expression) -%}
    case
        when typeof({{ expression }}) like 'decimal%'
            then regexp_replace(cast({{ expression }} as string), '([.][0-9]*?[0-9])0+$', '$1')
        when typeof({{ expression }}) = 'timestamp'
            then concat(cast({{ expression }} as string), '+00')
        else cast({{ expression }} as string)
    end
{%- endmacro %}


{#-
    `column` with each double quote preceded by a backslash (JSON string content). Spark's
    string literals treat the backslash as an escape character, so its literal needs two.
-#}
{% macro escape_double_quotes(column) -%}
    {{- return(adapter.dispatch('escape_double_quotes')(column)) -}}
{%- endmacro %}

{% macro default__escape_double_quotes(column) -%}
    replace({{ column }}, '"', '\"')
{%- endmacro %}

{% macro spark__escape_double_quotes(column) -%}
    replace({{ column }}, '"', '\\"')
{%- endmacro %}


{#-
    Aggregate: `expression` (text) of the group's rows joined by `delimiter` in the order of
    `order_column`. Spark's listagg/string_agg does not keep the `order by` of the group; there
    the items are sorted as (order_column, item) pairs and joined.
-#}
{% macro ordered_listagg(expression, delimiter, order_column) -%}
    {{- return(adapter.dispatch('ordered_listagg')(expression, delimiter, order_column)) -}}
{%- endmacro %}

{% macro default__ordered_listagg(expression, delimiter, order_column) -%}
    {{ dbt.listagg(expression, delimiter, 'order by ' ~ order_column) }}
{%- endmacro %}

{% macro spark__ordered_listagg(expression, delimiter, order_column) -%}
    array_join(
        transform(
            array_sort(collect_list(named_struct('sort_key', {{ order_column }}, 'item', {{ expression }}))),
            entry -> entry.item
        ),
        {{ delimiter }}
    )
{%- endmacro %}
