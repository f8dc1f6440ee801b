{#-
    dbt.type_float() is `float` on dbt-spark: Spark's FLOAT is 4 bytes (about 7 significant
    digits), PostgreSQL's `float` is `double precision`. The measures cast with type_float()
    (completion sums, means, shares, the MongoDB documents' doubles) would lose digits on Spark
    and differ from PostgreSQL's (a sum like 123456.7 does not survive), and the contracts
    declare double. Overriding dbt-spark's dispatch target keeps every model's
    `dbt.type_float()` as it is on PostgreSQL: an 8-byte double.
-#}
{% macro spark__type_float() -%}
    double
{%- endmacro %}
