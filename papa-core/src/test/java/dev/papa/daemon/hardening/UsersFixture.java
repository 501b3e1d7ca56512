package dev.papa.daemon.hardening;

import java.io.IOException;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * A test class's real users ({@link TestUsers}), from before its first test to after its last,
 * failures included: {@code @RegisterExtension static final UsersFixture users = new UsersFixture(GROUP, A, B);}.
 * Runs before the class's own {@code @BeforeAll} methods, so they may ask for uids.
 */
final class UsersFixture implements BeforeAllCallback, AfterAllCallback {
    private final String group;
    private final String[] names;
    private TestUsers users;

    UsersFixture(String group, String... names) {
        this.group = group;
        this.names = names.clone();
    }

    @Override
    public void beforeAll(ExtensionContext context) throws Exception {
        users = TestUsers.create(group, names);
    }

    @Override
    public void afterAll(ExtensionContext context) {
        if (users != null) users.close();
        users = null;
    }

    int uid(String name) throws IOException, InterruptedException {
        return users.uid(name);
    }

    int gid(String name) throws IOException, InterruptedException {
        return users.gid(name);
    }

    int groupId() throws IOException, InterruptedException {
        return users.groupId();
    }
}
