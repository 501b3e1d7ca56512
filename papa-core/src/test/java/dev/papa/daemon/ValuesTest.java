package dev.papa.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** set / get / list values / remove values, wildcards, escaped spaces. */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class ValuesTest extends DaemonTestBase {

    @Test
    void setGetListRemoveWithWildcards() throws Exception {
        ProtocolClient c = connect();
        assertEquals("\n> ", c.send("get aack"));
        assertEquals("\n> ", c.send("list values"));
        assertEquals("\n> ", c.send("set aack bar"));
        assertEquals("bar\n> ", c.send("get aack"));
        assertEquals("aack bar\n> ", c.send("list values"));
        assertEquals("\n> ", c.send("set aack2 barry"));
        assertEquals("\n> ", c.send("set aack3 larry"));
        assertEquals("\n> ", c.send("set bar aack"));
        String all = "aack bar\naack2 barry\naack3 larry\nbar aack\n> ";
        assertEquals(all, c.send("list values"));
        assertEquals(all, c.send("list values *"));
        assertEquals("aack bar\naack2 barry\naack3 larry\n> ", c.send("list values aack*"));
        assertEquals("bar aack\n> ", c.send("list values b*"));
        assertEquals("aack2 barry\nbar aack\n> ", c.send("list values aack2 b*"));
        assertEquals("aack2 barry\nbar aack\n> ", c.send("list values bar aack2"));
        assertEquals("aack bar\n> ", c.send("list values aack"));
        assertEquals("\n> ", c.send("list values nothere"));
        assertEquals("\n> ", c.send("list values zz*"));
        assertEquals(all, c.send("list values aack* *"));
        // no value deletes
        assertEquals("\n> ", c.send("set aack"));
        assertEquals("\n> ", c.send("get aack"));
        assertEquals("aack2 barry\naack3 larry\n> ", c.send("list values a*"));
        assertEquals("\n> ", c.send("set neverexisted"));
        // remove by prefix
        assertEquals("\n> ", c.send("remove values aack*"));
        assertEquals("bar aack\n> ", c.send("list values"));
        // neither a prefix that matches nothing nor a missing name is an error (issue 9, item 8:
        // the reference client's remove_values('x') relies on it); what exists is removed
        assertEquals("\n> ", c.send("remove values zz*"));
        assertEquals("\n> ", c.send("remove values nothere"));
        assertEquals("bar aack\n> ", c.send("list values"));
        assertEquals("\n> ", c.send("set other 1"));
        assertEquals("\n> ", c.send("remove values nothere other"));
        assertEquals("bar aack\n> ", c.send("list values"));
        assertEquals("\n> ", c.send("remove values bar"));
        assertEquals("\n> ", c.send("list values"));
    }

    @Test
    void removeAllIsRefused() throws Exception {
        ProtocolClient c = connect();
        assertEquals("\n> ", c.send("set x 1"));
        assertEquals("Error: You cannot remove all variables\n> ", c.send("remove values"));
        assertEquals("Error: You cannot remove all variables\n> ", c.send("remove values *"));
        assertEquals("Error: You cannot remove all variables\n> ", c.send("r v *"));
        assertEquals("x 1\n> ", c.send("list values"));
    }

    @Test
    void valueRequiresAName() throws Exception {
        ProtocolClient c = connect();
        assertEquals("Error: Value requires a name\n> ", c.send("set"));
        assertEquals("Error: Value requires a name\n> ", c.send("set *"));
        // the name "*" with a value: refused (the exact wording is not fixed by the protocol)
        ProtocolClient.assertErrorLine("set * something", c.send("set * something"));
        assertEquals("\n> ", c.send("list values"));
    }

    @Test
    void valueIsTheRemainingWordsJoinedBySingleSpaces() throws Exception {
        ProtocolClient c = connect();
        assertEquals("\n> ", c.send("set multi a  b   c"));
        assertEquals("a b c\n> ", c.send("get multi"));
        assertEquals("\n> ", c.send("set eq x=y=z"));
        assertEquals("x=y=z\n> ", c.send("get eq"));
        assertEquals("\n> ", c.send("set utf8 h\u00e9llo w\u00f6rld \u2603"));
        assertEquals("h\u00e9llo w\u00f6rld \u2603\n> ", c.send("get utf8"));
        assertEquals("eq x=y=z\nmulti a b c\nutf8 h\u00e9llo w\u00f6rld \u2603\n> ", c.send("list values"));
        // overwrite
        assertEquals("\n> ", c.send("set multi d"));
        assertEquals("d\n> ", c.send("get multi"));
    }

    @Test
    void escapedSpacesJoinWords() throws Exception {
        ProtocolClient c = connect();
        assertEquals("\n> ", c.send("set k two\\ \\ spaces and\\ more"));
        assertEquals("two  spaces and more\n> ", c.send("get k"));
        assertEquals("k two  spaces and more\n> ", c.send("list values"));
    }
}
