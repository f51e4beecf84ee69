package io.peft4j.core.linalg;

import com.google.inject.AbstractModule;
import io.peft4j.api.LinearAlgebra;
import io.peft4j.linalg.EjmlLinearAlgebra;

/**
 * The platform services bound in the root injector, which every plugin's extensions may {@code @Inject}
 * (each plugin gets a child injector of the root; see {@code GuiceExtensionFactory}).
 */
public final class PlatformServicesModule extends AbstractModule {

    @Override
    protected void configure() {
        bind(LinearAlgebra.class).toInstance(EjmlLinearAlgebra.INSTANCE);
    }
}
