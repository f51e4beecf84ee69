#!/usr/bin/env bash
# Data-parallel step benchmark (prints one JSON line per worker count). Builds the module with a minimal Spark home
# (spark/target/spark-home/jars) so that local-cluster mode can start one real executor JVM per worker.
#   spark/bench.sh [--shape small|tiny|stories260K] [--workers 1,2] [--steps 8] [--master local-cluster|local]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
mvn -B -q -Pspark-bench -pl spark -am -DskipTests package
OPENS=""
for p in java.lang java.lang.invoke java.lang.reflect java.io java.net java.nio java.util java.util.concurrent \
         java.util.concurrent.atomic jdk.internal.ref sun.nio.ch sun.nio.cs sun.security.action sun.util.calendar; do
  OPENS="$OPENS --add-opens=java.base/$p=ALL-UNNAMED"
done
export SPARK_HOME="$PWD/spark/target/spark-home" SPARK_SCALA_VERSION=2.13   # the in-process Worker reads these
exec java -Xmx3g -XX:+IgnoreUnrecognizedVMOptions $OPENS -Djdk.reflect.useDirectMethodHandle=false \
  -Dai.djl.offline=true -Dai.djl.default_engine=PyTorch -Dlog4j2.configurationFile=spark/src/test/resources/log4j2.properties \
  -cp "spark/target/classes:spark/target/spark-home/jars/*" io.peft4j.spark.SparkBench \
  --plugins spark/target/test-plugins --spark-home spark/target/spark-home --out spark/target/spark-bench \
  --master local-cluster "$@"
